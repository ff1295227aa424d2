"""Train a small causal language model across a torchrun gang (gloo or nccl) and publish it as a
GGUF file that llama.cpp's llama-server serves.

The model is a Llama (RMSNorm, rotary attention, SwiGLU, tied embeddings) of about 0.6M
parameters at the defaults (it need not be good, only real: two CPU pods train it in about a
minute, and it learns the corpus by heart), trained on corpus/public-domain.txt with a
byte-level BPE tokenizer learnt from the same text. It is written the way llama.cpp computes
the `llama` architecture (rotary embedding over adjacent pairs, ggml's "normal" mode), so its
weights go into the GGUF as they are, with no reordering of Q and K. Every rank trains on its
own random windows with DistributedDataParallel; rank 0 checkpoints to $CHECKPOINT_DIR (if set)
every CHECKPOINT_EVERY steps and a restarted gang resumes from it.

Rank 0 writes to $OUTPUT_URI (s3://bucket/prefix, credentials and endpoint from AWS_* variables,
or a folder): model.gguf; heldout.txt, the last tenth of the corpus by lines, never trained on
(the evaluation measures perplexity on it); and sample.json, a prompt with the greedy
continuation this code computes, so a test can check that llama.cpp reads the weights the same.

Settings (env): STEPS (200), DIM (128), LAYERS (2), HEADS (4), CONTEXT (64), VOCAB (512),
BATCH (16 per rank), LR (0.005), SEED (0), CHECKPOINT_EVERY (25), STEP_SECONDS (a pause per
step, for tests).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

HERE = Path(__file__).resolve().parent
EOT = "<|endoftext|>"
ROPE_BASE = 10000.0
EPS = 1e-5


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def log(msg: str) -> None:
    print(f"[rank {os.environ.get('RANK', '0')}] {msg}", flush=True)


def cpu_threads() -> int:
    """As many threads as the container's CPU limit allows (the host's count oversubscribes)."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            return max(1, int(quota) // int(period))
    except (OSError, ValueError):
        pass
    return max(1, len(os.sched_getaffinity(0)))


# Tokenizer -------------------------------------------------------------------------------


def train_tokenizer(text: str, vocab: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    # GPT-2's byte-level pre-tokenizer: what llama.cpp's "gpt2" model with pre "gpt-2" does.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=[EOT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(text.splitlines(keepends=True), trainer)
    return tok


# Model -----------------------------------------------------------------------------------


class RMSNorm(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * self.weight


def rope(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Rotary embedding over adjacent pairs (x[2i], x[2i+1]), as ggml_rope's normal mode."""
    d = x.shape[-1]
    theta = ROPE_BASE ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)
    angle = pos[:, None].float() * theta[None, :]  # (T, d/2)
    cos, sin = angle.cos(), angle.sin()
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.heads = heads
        self.attn_norm, self.ffn_norm = RMSNorm(dim), RMSNorm(dim)
        self.wq, self.wk, self.wv, self.wo = (nn.Linear(dim, dim, bias=False) for _ in range(4))
        self.gate, self.up = nn.Linear(dim, ffn, bias=False), nn.Linear(dim, ffn, bias=False)
        self.down = nn.Linear(ffn, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.attn_norm(x)
        pos = torch.arange(t)

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, d // self.heads).transpose(1, 2)

        q, k, v = split(self.wq(h)), split(self.wk(h)), split(self.wv(h))
        q, k = rope(q, pos), rope(k, pos)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.wo(a.transpose(1, 2).reshape(b, t, d))
        h = self.ffn_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class TinyLlama(nn.Module):
    def __init__(self, vocab: int, dim: int, layers: int, heads: int) -> None:
        super().__init__()
        self.ffn = 256 * math.ceil(8 * dim / 3 / 256)  # Llama's SwiGLU width, rounded
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList(Block(dim, heads, self.ffn) for _ in range(layers))
        self.norm = RMSNorm(dim)
        nn.init.normal_(self.embed.weight, std=0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x) @ self.embed.weight.T  # tied output, as a GGUF without output.weight


# GGUF ------------------------------------------------------------------------------------


def to_gguf(model: TinyLlama, tok: Any, context: int, heads: int) -> bytes:
    import gguf

    path = Path("/tmp/model.gguf")
    w = gguf.GGUFWriter(str(path), "llama")
    dim = model.embed.weight.shape[1]
    w.add_name("modelops-tiny-llama")
    w.add_context_length(context)
    w.add_embedding_length(dim)
    w.add_block_count(len(model.blocks))
    w.add_feed_forward_length(model.ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(heads)
    w.add_rope_dimension_count(dim // heads)
    w.add_rope_freq_base(ROPE_BASE)
    w.add_layer_norm_rms_eps(EPS)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    vocab = tok.get_vocab()
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    merges = json.loads(tok.to_str())["model"]["merges"]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL if t == EOT else gguf.TokenType.NORMAL
                       for t in tokens])
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    w.add_bos_token_id(vocab[EOT])
    w.add_eos_token_id(vocab[EOT])
    w.add_add_bos_token(False)  # trained without one
    names = {"embed.weight": "token_embd.weight", "norm.weight": "output_norm.weight"}
    per_block = {"attn_norm.weight": "attn_norm", "wq.weight": "attn_q", "wk.weight": "attn_k",
                 "wv.weight": "attn_v", "wo.weight": "attn_output", "ffn_norm.weight": "ffn_norm",
                 "gate.weight": "ffn_gate", "up.weight": "ffn_up", "down.weight": "ffn_down"}
    for name, t in model.state_dict().items():
        if name.startswith("blocks."):
            _, i, rest = name.split(".", 2)
            gname = f"blk.{i}.{per_block[rest]}.weight"
        else:
            gname = names[name]
        w.add_tensor(gname, t.detach().float().numpy().astype(np.float32))  # [out, in] as is
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.read_bytes()


# Training --------------------------------------------------------------------------------


@torch.no_grad()
def perplexity(model: TinyLlama, ids: torch.Tensor, context: int) -> float:
    losses = []
    for i in range(0, len(ids) - 1, context):
        chunk = ids[i:i + context + 1]
        if len(chunk) < 2:
            break
        logits = model(chunk[None, :-1])
        losses.append(F.cross_entropy(logits[0], chunk[1:], reduction="sum").item())
    return math.exp(sum(losses) / (len(ids) - 1))


@torch.no_grad()
def greedy(model: TinyLlama, ids: list[int], n: int, context: int) -> list[int]:
    out = list(ids)
    for _ in range(n):
        logits = model(torch.tensor([out[-context:]]))
        out.append(int(logits[0, -1].argmax()))
    return out[len(ids):]


def publish(files: dict[str, bytes], uri: str) -> None:
    if uri.startswith("s3://"):
        import boto3

        bucket, _, prefix = uri[5:].partition("/")
        s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
        for name, data in files.items():
            key = f"{prefix.rstrip('/')}/{name}" if prefix else name
            s3.put_object(Bucket=bucket, Key=key, Body=data)
    else:
        out = Path(uri.removeprefix("file://"))
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (out / name).write_bytes(data)


def split(text: str) -> tuple[str, str]:
    lines = text.splitlines(keepends=True)
    cut = len(lines) - len(lines) // 10
    return "".join(lines[:cut]), "".join(lines[cut:])


def main() -> None:
    torch.set_num_threads(cpu_threads())
    dist.init_process_group(os.environ.get("DIST_BACKEND", "gloo"))
    rank, world = dist.get_rank(), dist.get_world_size()
    log(f"joined a gang of {world} through {os.environ.get('MASTER_ADDR')}")
    steps, dim, layers = env_int("STEPS", 200), env_int("DIM", 128), env_int("LAYERS", 2)
    heads, context, batch = env_int("HEADS", 4), env_int("CONTEXT", 64), env_int("BATCH", 16)
    corpus = Path(os.environ.get("CORPUS", HERE / "corpus" / "public-domain.txt"))
    train_text, heldout = split(corpus.read_text())
    tok = train_tokenizer(train_text, env_int("VOCAB", 512))  # deterministic: same on every rank
    ids = torch.tensor(tok.encode(train_text).ids)
    torch.manual_seed(env_int("SEED", 0))
    model = TinyLlama(tok.get_vocab_size(), dim, layers, heads)
    ddp = DistributedDataParallel(model)
    opt = torch.optim.AdamW(ddp.parameters(), lr=float(os.environ.get("LR", "0.005")))
    if rank == 0:
        n = sum(p.numel() for p in model.parameters())
        log(f"{n / 1e6:.2f}M parameters, {len(ids)} training tokens, vocab {tok.get_vocab_size()}")
    ckpt_dir = os.environ.get("CHECKPOINT_DIR")
    ckpt = Path(ckpt_dir) / "lm.pt" if ckpt_dir else None
    start = 0
    if ckpt is not None and ckpt.exists():
        state = torch.load(ckpt)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start = state["step"] + 1
        log(f"resumed from the checkpoint of step {state['step']}")
    gen = torch.Generator().manual_seed(env_int("SEED", 0) * 1000 + rank)
    every, pause = env_int("CHECKPOINT_EVERY", 25), float(os.environ.get("STEP_SECONDS", 0))
    for step in range(start, steps):
        for group in opt.param_groups:  # cosine decay to a tenth
            group["lr"] = float(os.environ.get("LR", "0.005")) * (
                0.1 + 0.45 * (1 + math.cos(math.pi * step / max(1, steps))))
        starts = torch.randint(0, len(ids) - context - 1, (batch,), generator=gen)
        x = torch.stack([ids[s:s + context] for s in starts])
        y = torch.stack([ids[s + 1:s + context + 1] for s in starts])
        loss = F.cross_entropy(ddp(x).flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if rank == 0 and (step % every == every - 1 or step == steps - 1):
            log(f"step {step} loss {loss.item():.3f}")
            if ckpt is not None:
                ckpt.parent.mkdir(parents=True, exist_ok=True)
                torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step},
                           ckpt.with_suffix(".tmp"))
                ckpt.with_suffix(".tmp").replace(ckpt)  # a kill never leaves half a checkpoint
        time.sleep(pause)
    dist.barrier()
    if rank == 0:
        model.eval()
        held = torch.tensor(tok.encode(heldout).ids)
        log(f"held-out perplexity (PyTorch) {perplexity(model, held, context):.2f}")
        prompt = "Once upon a midnight dreary,"
        cont = greedy(model, tok.encode(prompt).ids, 24, context)
        sample = {"prompt": prompt, "tokens": cont, "text": tok.decode(cont)}
        log(f"sample: {prompt!r} -> {sample['text']!r}")
        publish({"model.gguf": to_gguf(model, tok, context, heads),
                 "heldout.txt": heldout.encode(),
                 "sample.json": json.dumps(sample).encode()}, os.environ["OUTPUT_URI"])
        log(f"trained {steps} steps; model written to {os.environ['OUTPUT_URI']}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
