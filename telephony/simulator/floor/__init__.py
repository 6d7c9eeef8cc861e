"""The generated floor: profiles, the plan of each call, the timeline of due
steps and the one runner task that plays them against the engine.
May import engine/ and telephony.simulator.defaults, never rest/, gateway/ or
control/ (the REST side reaches the floor only through callbacks).
"""
