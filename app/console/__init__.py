"""The Textual console: the App, its typed context, routes to screens, the palette and the tcss."""
