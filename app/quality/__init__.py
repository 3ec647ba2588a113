"""Model quality in production (issue 17 item 2): live metrics from late labels, with confidence
intervals, calibration, and business outcomes correlated with the score."""
