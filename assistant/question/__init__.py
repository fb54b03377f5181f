"""Stage 1, the question: the typed text in, one frozen `QuestionAnalysis` out.

`checks` cleans and limits the typed text, `analysis.analyse` reads it once (language, words, named
sections, follow-up, asked date, kind of question), `glossary` adds the documents' terms for everyday
words and `dates` parses the dates a question asks about. Every later stage reads the analysis, never
the raw string.
"""
