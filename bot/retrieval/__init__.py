"""Hybrid retrieval over the knowledge base: lexical (BM25, French stemming) + dense (FAISS)."""
