"""Cross-file checks of `bot lint`, one module per problem family. Each exports `check(bot)`."""
