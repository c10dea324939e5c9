"""lightning-gan: reusable PyTorch Lightning parts for training GANs."""

from lightning_gan.losses import LOSSES, get_loss
from lightning_gan.module import GANModule

__all__ = ["LOSSES", "GANModule", "get_loss"]
__version__ = "0.1.0"
