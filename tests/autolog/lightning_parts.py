"""The torch and Lightning side of tests/autolog/test_lightning_autolog.py: a tiny module,
a quiet CPU trainer and two loaders. Imported by that test module's ``lit`` fixture, never at
collection: importing torch and Lightning costs about 11 s of CPU, and with ``--dist loadfile``
every xdist worker collects every test module, including the workers that never run these
tests."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping  # noqa: F401  (used by the tests)

torch.set_num_threads(1)


class Tiny(pl.LightningModule):
    """Two linear layers on three features."""

    def __init__(self, hidden: int = 4, lr: float = 0.05, nan_metric: bool = False):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(hidden, 1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        if self.hparams.nan_metric:
            self.log("ratio", float("nan"), on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.5)


class OwnTrainer(pl.Trainer):
    """A user's Trainer subclass, defined outside Lightning."""


def loaders():
    """A training loader (batches of 8) and a validation loader (16) over one dataset."""
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(32, 3, generator=generator)
    y = X.sum(1, keepdim=True)
    data = torch.utils.data.TensorDataset(X, y)
    return (torch.utils.data.DataLoader(data, batch_size=8),
            torch.utils.data.DataLoader(data, batch_size=16))


def trainer(**kwargs) -> pl.Trainer:
    options = {"max_epochs": 2, "enable_progress_bar": False, "logger": False,
               "enable_checkpointing": False, "enable_model_summary": False,
               "accelerator": "cpu", "devices": 1}
    options.update(kwargs)
    return pl.Trainer(**options)
