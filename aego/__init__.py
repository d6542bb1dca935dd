"""ægo: a learning agent walks the latent space of a spectral VAE, and you hear where it goes."""

__version__ = "0.1.0"
