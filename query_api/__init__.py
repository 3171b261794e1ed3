"""The read side: endpoints → queries → cache → read models. Imports ``shared`` only."""
