"""The Thread Read Info web panel under /ui/: pages for agents and admins, served beside the API by `maild run`."""
