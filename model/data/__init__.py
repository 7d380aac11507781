"""The data side of the model: the procedural corpus, video decoding, face tracking and optical flow, and the clip
sets that feed the network. It imports nothing of the network itself (tests/test_layers.py holds it to that)."""
