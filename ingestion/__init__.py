"""Ingestion: declared feed schemas, validation, the COPY loader and the synthetic feeds."""
