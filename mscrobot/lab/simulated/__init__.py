"""The simulated lab: the digital twin behind the device Protocols, with a persistent world."""
