"""Federated training: users are clients whose vectors never leave them; item factors
are averaged on a server (FedAvg), optionally with differential-privacy noise. The
Flower simulation engine is the `federated` extra, imported only when a fit asks for it."""
