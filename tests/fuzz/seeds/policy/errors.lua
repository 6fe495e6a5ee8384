return { dpii = 200, batch_size = "ten" }
