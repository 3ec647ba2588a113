"""What each screen shows, read in one blocking call, with no Textual (the model half of k9s's model/view split)."""
