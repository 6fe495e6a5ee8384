-- The policy of test_first_page_trial.lua.
return { first_page_languages = "jpn" }
