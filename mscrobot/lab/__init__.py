"""Labs: device Protocols, lab configs, and the backends that implement them."""
