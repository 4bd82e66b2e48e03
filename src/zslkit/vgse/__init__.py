"""zslkit.vgse"""
