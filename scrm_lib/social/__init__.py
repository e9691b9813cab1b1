"""The social layer: channels (acquisition and the journey), and next referrals,
conversations and automation; one package each, with the same four doors as
every capability (a build step, declared marts, ``cli.app``, a public API)."""
