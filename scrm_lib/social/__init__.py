"""The social layer: channels (acquisition and the journey), conversations (intent,
sentiment, service), referrals (the fission graph and the KOC pool), and next
automation; one package each, with the same four doors as every capability (a build
step, declared marts, ``cli.app``, a public API)."""
