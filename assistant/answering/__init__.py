"""Stage 3, the answer: the analysis and the ranked hits in, an `Answer` record out.

`extractive` selects and composes verbatim sentences with citations, `refusal` decides when the
documents do not cover the question, `llm` is the optional generated mode with its citation check,
`version_answers` and `versions` answer questions about earlier versions and what changed.
"""
