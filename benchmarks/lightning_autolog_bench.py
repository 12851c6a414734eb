"""Autolog overhead on a PyTorch Lightning ``Trainer.fit`` of a tiny model.

    .venv/bin/python benchmarks/lightning_autolog_bench.py [--pairs 7] [--epochs 2] [--quick]

A 2-layer module (3 -> 8 -> 1) on 64 random rows, batch 8, CPU, one torch thread, no logger,
no checkpointing, no progress bar: the fit is mostly Lightning's own per-fit setup, so the
overhead shows plainly. One process, SQLite store in a temporary folder; imports and a warm-up
fit of each kind are outside the timed window. Each pair is a fit without autologging and one
with it (inside an active run), in alternating order, so both halves see the same load. Times
are wall and CPU (user+sys of the whole process, all threads); ``flushed`` adds the wait for
the weights file written in the background. On a busy machine trust CPU. No MLflow anchor
yet (``mlflow.pytorch.autolog`` would need torch in MLflow's benchmark venv).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2 pairs: check the harness")
    args = parser.parse_args()
    if args.quick:
        args.pairs = 2
    folder = tempfile.mkdtemp(prefix="lightning-bench-")
    os.environ["MLOPS_TRACKING_URI"] = f"sqlite:///{folder}/mlops.db"
    os.environ["MLOPS_ARTIFACT_ROOT"] = f"{folder}/artifacts"

    import warnings

    warnings.filterwarnings("ignore")
    import logging

    import lightning.pytorch as pl
    import torch

    for name in ("lightning.pytorch", "lightning.pytorch.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.ERROR)

    import jupyter_mlops as mlops

    torch.set_num_threads(1)

    class Tiny(pl.LightningModule):
        def __init__(self, hidden: int = 8, lr: float = 0.05):
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.ReLU(),
                                           torch.nn.Linear(hidden, 1))

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss, on_step=False, on_epoch=True)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    X = torch.randn(64, 3)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(X, X.sum(1, keepdim=True)), batch_size=8)

    def fit(autolog: bool) -> tuple[float, float, float]:
        trainer = pl.Trainer(max_epochs=args.epochs, accelerator="cpu", logger=False,
                             enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False)
        module = Tiny()
        if autolog:
            mlops.autolog()
            mlops.start_run()
        wall, cpu = time.perf_counter(), _cpu()
        trainer.fit(module, loader)
        wall_fit, cpu_fit = time.perf_counter() - wall, _cpu() - cpu
        if autolog:
            mlops.flush()
            flushed = time.perf_counter() - wall
            mlops.end_run()
            mlops.autolog(disable=True)
        else:
            flushed = wall_fit
        return wall_fit, cpu_fit, flushed

    fit(False), fit(True)  # warm-up
    rows: dict[str, list[float]] = {k: [] for k in ("wall_none", "cpu_none", "wall_on",
                                                    "cpu_on", "flushed_on")}
    for i in range(args.pairs):
        for autolog in ((False, True) if i % 2 == 0 else (True, False)):
            wall, cpu, flushed = fit(autolog)
            kind = "on" if autolog else "none"
            rows[f"wall_{kind}"].append(wall)
            rows[f"cpu_{kind}"].append(cpu)
            if autolog:
                rows["flushed_on"].append(flushed)
    medians = {k: round(statistics.median(v) * 1000, 1) for k, v in rows.items()}
    overhead = {
        "cpu_ms": round(statistics.median(
            [a - b for a, b in zip(rows["cpu_on"], rows["cpu_none"])]) * 1000, 1),
        "wall_ms": round(statistics.median(
            [a - b for a, b in zip(rows["wall_on"], rows["wall_none"])]) * 1000, 1),
        "flushed_wall_ms": round(statistics.median(
            [a - b for a, b in zip(rows["flushed_on"], rows["wall_none"])]) * 1000, 1)}
    row = {"bench": "autolog_lightning",
           "what": f"Trainer.fit overhead, tiny module, {args.epochs} epochs (CPU ms, "
                   f"median of {args.pairs} pairs)",
           "ours": f"{overhead['cpu_ms']:+.1f} ms", "anchor": "–", "ratio": "–",
           "target": "< 20 ms", "met": overhead["cpu_ms"] < 20}
    json.dump({"pairs": args.pairs, "epochs": args.epochs, "median_ms": medians,
               "overhead_median_of_pairs": overhead, "load_after": os.getloadavg(),
               "rows": [row]}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
