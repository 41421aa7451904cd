"""Campaigns: many recipes scheduled over one lab's stir positions, robot arm and spectrometer.

``models``/``loader`` read the campaign file; ``resources`` says which shared resources each step
kind uses; ``scheduler`` is the pure discrete-event core (virtual time, who holds what);
``conductor`` runs each recipe's engine under it; ``record`` writes the campaign folder and its
progress record; ``resume`` rebuilds a stopped or killed campaign from its folder; ``stocks``
and ``tips`` say what a lab would need for it (stock vials, tip refills); ``report`` writes its
summary page.
"""
