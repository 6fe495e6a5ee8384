return { opensearch_mapping_file = "mapping.json" }
