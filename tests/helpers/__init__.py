"""Shared test parts: real PKIs, real HTTPS servers, real wheels and venvs."""
