"""Internals of :mod:`araneus.fabricate`: strut/node sizing, boolean union, printability checks."""
