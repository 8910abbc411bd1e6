"""Invoice PDFs: rendered from 1C's data (or printed by 1C itself) and put on the deal card."""
