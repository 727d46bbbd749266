"""Tiny random models built locally (no weights exist here but the default embedder's), saved
like downloaded ones so the real loading code reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from index.embedder import resolve_model_path


def tiny_bert(**config: Any) -> tuple[Any, Any]:
    """(the default model's tokenizer, a 1-layer BERT config sized for it)."""
    import torch
    from transformers import AutoTokenizer, BertConfig

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("all-MiniLM-L6-v2"))
    bert = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        **config,
    )
    return tokenizer, bert


def tiny_classifier(folder: Path, labels: dict[int, str] | None = None, name: str = "tiny") -> Path:
    """A random 1-layer BERT sequence classifier with the default model's tokenizer, saved
    like a downloaded cross-encoder: one output unless `labels` names several."""
    from transformers import BertForSequenceClassification

    if labels:
        tokenizer, config = tiny_bert(
            num_labels=len(labels),
            id2label=labels,
            label2id={v: k for k, v in labels.items()},
        )
    else:
        tokenizer, config = tiny_bert(num_labels=1)
    out = folder / name
    BertForSequenceClassification(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_tiny_model(folder: Path, max_seq_length: int) -> Path:
    """A random 1-layer BERT sentence-transformers model (dimension 32) with the default
    model's tokenizer, saved like any downloaded model and loaded through the same code."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models
    from transformers import BertModel

    tokenizer, config = tiny_bert(max_position_embeddings=512)
    raw = folder / "raw"
    BertModel(config).save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    word = models.Transformer(str(raw), max_seq_length=max_seq_length)
    pooling = models.Pooling(word.get_embedding_dimension(), "mean")
    out = folder / "tiny-model"
    SentenceTransformer(modules=[word, pooling]).save(str(out))
    return out
