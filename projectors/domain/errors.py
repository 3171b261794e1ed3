"""Why an event cannot be projected (it goes to the dead-letter topic with this reason)."""


class Unprojectable(ValueError):
    """The event is valid JSON but makes no sense for the projection's current state."""
