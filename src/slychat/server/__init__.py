"""What sits beneath the libraries: the engine.io loop, websockets, queues, codec, fan-out."""
