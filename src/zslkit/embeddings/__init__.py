"""zslkit.embeddings"""
