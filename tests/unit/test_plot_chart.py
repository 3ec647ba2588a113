"""Charts of windows with no data: plotext never returns from a NaN, so such points must be left out."""

from widgets.plot_chart import BarChart, LineChart, render_chart

NAN = float("nan")


def test_line_chart_with_empty_windows_still_draws_the_rest():
    chart = render_chart(LineChart("psi of amount", ("10:00", "11:00", "12:00"), (0.05, NAN, 0.4), threshold=0.1,
                                   extra=(("p90", (NAN, NAN, NAN)),)), 60, 12)
    assert "psi of amount" in chart
    assert "0.4" in chart  # the y axis still spans the finite values


def test_histogram_with_an_empty_bin_draws_it_as_zero():
    chart = render_chart(BarChart("amount", ("low", "high"), (0.5, NAN), (NAN, 0.5)), 60, 12)
    assert "amount" in chart and "low" in chart and "high" in chart
