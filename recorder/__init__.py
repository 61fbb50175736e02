"""Tandem's authoring tools: record walkthroughs in a real browser, verify them.

This package also owns how Tandem finds and launches Chromium, which the
recorder, ``tandem verify`` and the browser tests share.
"""
