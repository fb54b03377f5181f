"""Offline evaluation of the RAG assistant: metrics, reports and the CI gate."""
