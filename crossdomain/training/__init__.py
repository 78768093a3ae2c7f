"""Stage 2, one unit's training: symbols to tokens (``mapping``), models and tokenizers (``models``), the one
training loop (``trainer``), post-training hooks (``hooks``), and a unit's stages top to bottom (``stages``)."""
