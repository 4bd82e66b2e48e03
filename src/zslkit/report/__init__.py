"""zslkit.report"""
