"""Stage 1, the data: task definitions (``tasks``), where their files are found and checked (``sources``),
adapter records to checked, de-duplicated records (``prepare``), and splits (``splits``)."""
