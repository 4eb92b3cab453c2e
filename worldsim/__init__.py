"""worldsim: the embedded reference video-and-audio model (a physics world simulator in torch).

Stages: plan (prompt -> JSON scene plan), simulate (rigid bodies + articulated
characters), render (torch frames), audio (48 kHz stereo synthesis), encode (MP4).
The model itself is `worldsim.model.WorldSim`.
"""
