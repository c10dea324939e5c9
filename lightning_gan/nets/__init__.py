"""Generator and discriminator architectures.

Every network here records its constructor arguments (see :class:`Recordable`), so a
``GANModule`` checkpoint rebuilds it without pickling.
"""

from lightning_gan.nets._recordable import Recordable, build_network, network_spec
from lightning_gan.nets.mlp import DataStandardizer, MLPDiscriminator, MLPGenerator

__all__ = [
    "DataStandardizer",
    "MLPDiscriminator",
    "MLPGenerator",
    "Recordable",
    "build_network",
    "network_spec",
]
