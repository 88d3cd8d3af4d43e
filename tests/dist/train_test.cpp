// tests/dist/train_test.cpp — placeholder
