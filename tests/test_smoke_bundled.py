"""The bundled article answers the showcase question out of the box."""

from rag import Engine


def test_bundled_article_is_indexed_once(bundled_engine: Engine) -> None:
    docs = bundled_engine.documents()
    assert [d.doc_id for d in docs] == ["ijmms-2024-v14n2-msc-autoimmune-p128.txt"]
    assert docs[0].chunks > 1
