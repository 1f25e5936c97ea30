"""The web pages' files (package data), served by `bot.faces.http.pages`."""
