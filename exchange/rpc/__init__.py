"""gRPC adapters: conversion, status mapping, interceptor and thin handlers."""
