"""The live floor, pure and in memory: the model that merges telephony
events by sequence, the typed call and party views it hands out, and the
sequence-gap watch. No I/O, no Django, no Channels."""
