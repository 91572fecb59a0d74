"{{migration}}",
