"""Stage 2, retrieval: a `QuestionAnalysis` and filters in, ranked `Hit`s out.

`snapshot` loads what the index holds once per registry generation (chunks, vectors, the lexical
indexes), `lexical` is the German BM25 and coordination index, `ranking` fuses the ranked lists
(dense, BM25, coordination, the article around a passage) and applies the question's intent.
"""
