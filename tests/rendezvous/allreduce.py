"""A tiny distributed job: every rank contributes rank+1; all-reduce must give the sum."""

import os

import torch
import torch.distributed as dist

backend = os.environ["DIST_BACKEND"]
dist.init_process_group(backend=backend)
rank, world = dist.get_rank(), dist.get_world_size()
t = torch.tensor([float(rank + 1)])
if backend == "nccl":
    t = t.cuda(int(os.environ["LOCAL_RANK"]))
dist.all_reduce(t)
print(f"RESULT rank={rank} world={world} node={os.environ['NODE_RANK']} sum={t.item():g}",
      flush=True)
dist.destroy_process_group()
