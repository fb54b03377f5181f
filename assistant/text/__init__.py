"""Text: words and sentences of German documents and questions (pure functions shared by ingest,
the question analysis, retrieval and answering)."""
