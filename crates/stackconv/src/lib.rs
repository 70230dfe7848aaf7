//! Read any profile format into one sample model and write it to any other
