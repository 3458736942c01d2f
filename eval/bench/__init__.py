"""The project's own benchmarks: how well PaperTrail reads, verifies, scales and serves.

    python -m eval.bench               # COVID-QA and PubMedQA test tables, all systems (table.py)
    python -m eval.bench.pdfs          # reading the nine vendored journal PDFs
    python -m eval.bench.pdf_answers   # what that reading does to answers
    python -m eval.bench.ocr           # the same PDFs scanned, side by side with the originals
    python -m eval.bench.verifier      # the claim verifier on built claims
    python -m eval.bench.claim_labels  # ... and on hand-labelled sentences of the local model
    python -m eval.bench.scale         # a library 1-10x the COVID-QA articles
    python -m eval.bench.load          # concurrent chat sessions
    python -m eval.bench.scans         # scanned copies of PDF pages (fixtures, the OCR set)

A user's own evaluation is `papertrail eval` (eval/cli.py).
"""
