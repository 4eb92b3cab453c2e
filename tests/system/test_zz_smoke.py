import time
def test_smoke(platform, principals):
    print(principals)
